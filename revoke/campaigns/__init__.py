"""Mass containment campaigns: a group, a directory role or the tenant, paced at Graph's write quota through a Storage queue."""
