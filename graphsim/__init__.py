"""A loopback simulator of Microsoft Graph, the App Service managed-identity endpoint, and the
Azure Resource Manager call that comments on a Microsoft Sentinel incident.

For tests, the demo and the benchmark only; `.funcignore` keeps it out of the deployed app.
"""

from graphsim.server import Fault, GraphSimulator, RecordedRequest

__all__ = ["Fault", "GraphSimulator", "RecordedRequest"]
