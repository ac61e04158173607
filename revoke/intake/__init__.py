"""What a request names: the accepted payload shapes read into targets, strictly and safely."""
