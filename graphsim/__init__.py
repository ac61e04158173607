"""A loopback simulator of Microsoft Graph and the App Service managed-identity endpoint.

For tests, the demo and the benchmark only; `.funcignore` keeps it out of the deployed app.
"""

from graphsim.server import Fault, GraphSimulator, RecordedRequest

__all__ = ["Fault", "GraphSimulator", "RecordedRequest"]
