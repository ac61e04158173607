"""A loopback simulator of Microsoft Graph, the App Service managed-identity endpoint, the
Azure Resource Manager call that comments on a Microsoft Sentinel incident, the Logs Ingestion API
of the audit table's data collection rule (graphsim.ingestion, over HTTPS), and (graphsim.authority)
the Entra ID authority whose tokens callers present.

For tests, the demo and the benchmark only; `.funcignore` keeps it out of the deployed app.
"""

from graphsim.authority import EntraAuthority
from graphsim.faults import Fault
from graphsim.server import GraphSimulator
from graphsim.wire import RecordedRequest

__all__ = ["EntraAuthority", "Fault", "GraphSimulator", "RecordedRequest"]
