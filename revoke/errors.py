"""Every way the revocation service can fail, in one tree.

    RevokeError
    ├── SettingsError (ValueError)          an app setting has an invalid value
    ├── RequestRejected (ValueError)        the request cannot be acted on at all
    │   ├── MalformedPayload                   not JSON, or not a JSON object        -> 400
    │   ├── InvalidField                       a field has the wrong type or value   -> 400
    │   │   ├── UnknownField                   a direct request has a field it does not -> 400
    │   │   │                                  define (a typo such as dry_run is refused,
    │   │   │                                  never ignored)
    │   │   └── ReasonRequired                 a direct request or a release without a  -> 400
    │   │                                      reason (REVOKE_REQUIRE_REASON)
    │   ├── InvalidIdentifier                  a direct request names a user that is  -> 400
    │   │                                      neither a GUID nor a UPN (in an alert
    │   │                                      such an account is skipped instead)
    │   ├── PayloadTooLarge                    over the body size limit               -> 413
    │   │   └── TooManyAccounts                more accounts than one request may name -> 413
    │   ├── NoResolvableAccount                no account with an Entra identifier    -> 422
    │   ├── CallerRefused                      the caller may not do what it asks:
    │   │   ├── InvalidCallerToken                no valid Entra ID token for this API   -> 401
    │   │   ├── CallerNotPermitted                the token lacks an app role it needs   -> 403
    │   │   └── CampaignSecondApproverRequired    the caller who previewed a campaign    -> 403
    │   │                                         cannot also start it (two-person approval)
    │   ├── CampaignsOff                       REVOKE_CAMPAIGNS is not true             -> 404
    │   ├── CampaignNotFound                   no campaign has that id                 -> 404
    │   ├── CampaignStateConflict              the campaign cannot do that now         -> 409
    │   │   └── CampaignPreviewExpired         its preview is older than its life      -> 409
    │   └── CampaignOverLimit                  more targets than REVOKE_MAX_CAMPAIGN_USERS -> 422
    ├── GraphError                          a call to Microsoft Graph did not succeed
    │   ├── TransientGraphError                throttled, 5xx, timeout, dropped connection:
    │   │   │                                  retry later ("deferred")
    │   │   ├── GraphUnreachable               no connection could be opened (nothing sent)
    │   │   ├── IdentityUnavailable            no token from the managed identity (nothing sent)
    │   │   ├── OutOfTime                      the invocation's budget ran out first (nothing sent)
    │   │   └── Unconfirmed                    Graph's answer does not confirm the call succeeded
    │   └── PermanentGraphError                Graph refused: retrying will not help ("failed")
    │       └── Redirected                     Graph (or a proxy) answered 3xx; never followed
    ├── BudgetUnavailable                   the action budget's store cannot be reached:
    │                                       the targets are deferred (fail closed)
    ├── RecordsUnavailable                  the containment records cannot be reached: a
    │                                       containment stands unrecorded, a release is
    │                                       deferred (fail closed)
    ├── UnreadablePayload                   the CLI cannot read the payload file (exit 2)
    └── RetryLater                          raised by the queue trigger so the host redelivers

Whether a Graph failure is worth retrying (`GraphError.transient`), and whether the
request may have reached Graph (`GraphError.reached_graph`, which decides whether it
counts as an audited attempt), are properties of the type, never a string compare.
"""

from __future__ import annotations


class RevokeError(Exception):
    """Root of every error this package raises on purpose."""


class SettingsError(RevokeError, ValueError):
    """An app setting holds a value the service cannot use.

    `str()` is the full message for the log and may quote the value. `public_message` names
    the setting and the kind of value it needs, never the value: whoever can call the
    function must not learn, say, a break-glass account's name from a typo in the list.
    """

    def __init__(self, setting: str, problem: str, *, expected: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.public_message = f"{setting} has an invalid value; it must be {expected} (details in the log)"


class RequestRejected(RevokeError, ValueError):
    """The whole request is refused before anything is sent to Graph."""

    code = "invalid_request"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedPayload(RequestRejected):
    code = "malformed_json"


class InvalidField(RequestRejected):
    code = "invalid_field"


class InvalidIdentifier(RequestRejected):
    code = "invalid_identifier"


class ActionNotAllowed(RequestRejected):
    code = "action_not_allowed"


class UnknownField(InvalidField):
    code = "unknown_field"


class ReasonRequired(InvalidField):
    code = "reason_required"


class PayloadTooLarge(RequestRejected):
    code = "payload_too_large"
    http_status = 413


class TooManyAccounts(PayloadTooLarge):
    code = "too_many_accounts"


class NoResolvableAccount(RequestRejected):
    code = "no_resolvable_account"
    http_status = 422


class CallerRefused(RequestRejected):
    """The request is refused for who sent it; nothing in the body is read or acted on."""

    code = "invalid_token"
    http_status = 401


class InvalidCallerToken(CallerRefused):
    """No usable Entra ID access token: missing, malformed, expired, wrongly signed, for another
    tenant or audience, or the signing keys could not be fetched (retry later).

    `reason` is a short code for the answer, the log and the audit event; the token itself is
    never kept.
    """

    code = "invalid_token"
    http_status = 401

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class CallerNotPermitted(CallerRefused):
    """A valid token without the app role an action (or route) needs."""

    code = "caller_not_permitted"
    http_status = 403

    def __init__(self, missing_roles: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.missing_roles = missing_roles


class CampaignSecondApproverRequired(CallerRefused):
    """Two-person approval (REVOKE_CAMPAIGN_APPROVAL): whoever previewed a campaign may not start it."""

    code = "second_approver_required"
    http_status = 403


class CampaignsOff(RequestRejected):
    code = "campaigns_off"
    http_status = 404


class CampaignNotFound(RequestRejected):
    code = "campaign_not_found"
    http_status = 404


class CampaignStateConflict(RequestRejected):
    code = "campaign_state_conflict"
    http_status = 409


class CampaignPreviewExpired(CampaignStateConflict):
    """The preview is older than REVOKE_CAMPAIGN_PREVIEW_TTL_SECONDS: what it counted may no longer hold."""

    code = "campaign_preview_expired"


class CampaignOverLimit(RequestRejected):
    code = "campaign_over_limit"
    http_status = 422


class GraphError(RevokeError):
    """A Graph call that did not succeed, with what Graph said about it."""

    transient = False
    reached_graph = True

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after


class TransientGraphError(GraphError):
    transient = True


class GraphUnreachable(TransientGraphError):
    """No connection to Graph could be opened, so the request was never sent."""

    reached_graph = False


class IdentityUnavailable(TransientGraphError):
    """The managed-identity endpoint gave no token (down, slow, or misconfigured)."""

    reached_graph = False


class OutOfTime(TransientGraphError):
    """The invocation's REVOKE_RETRY_BUDGET_SECONDS ran out before the call could be sent."""

    reached_graph = False


class Unconfirmed(TransientGraphError):
    """A 2xx that does not say the call succeeded (202, an error object, an unreadable body):
    the call may or may not have happened, so it is retried, never reported as done."""


class PermanentGraphError(GraphError):
    transient = False


class Redirected(PermanentGraphError):
    """A 3xx answer. Following it could send the call, and the token, somewhere else."""


class BudgetUnavailable(RevokeError):
    """The tenant-wide action budget could not be read or reserved in time: nothing is sent."""


class RecordsUnavailable(RevokeError):
    """The containment records could not be read or written in time (revoke.containment.records)."""


class RetryLater(RevokeError):
    """Some targets were deferred; the queue host should deliver the message again."""


class UnreadablePayload(RevokeError):
    """The CLI's payload file could not be read: missing, a directory, or not readable by this user."""
