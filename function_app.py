"""Entry point the Azure Functions host indexes: the app and its triggers, nothing else."""

import azure.functions as func

from revoke.app.campaign_triggers import blueprint as campaign_blueprint
from revoke.app.release_triggers import blueprint as release_blueprint
from revoke.app.triggers import blueprint
from revoke.app.verify_triggers import blueprint as verify_blueprint

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(blueprint)
app.register_functions(release_blueprint)
app.register_functions(campaign_blueprint)
app.register_functions(verify_blueprint)
