"""Who is calling and what they may do: the principal behind a request, and the one permission matrix.

A request is made by a member (a dashboard session) or a machine (an API key). Both become a
``Principal``: its organization, its role and the label the audit log records. What a role may do is
decided here and nowhere else: ``required_permission`` maps a request (method and route) to one
permission, and ``api.deps.current_principal`` refuses with a 403 whoever lacks it.

- read: every GET, and a campaign preview (a POST that changes nothing). All roles.
- operate: campaigns (create, start, pause, resume, cancel, add contacts), a call now, a web call or text chat
  with an agent, a live call's context, re-running an analysis, the do-not-call list. Operator, admin, owner.
- administer: agents, numbers, webhooks, the calling policy and capacity, erasing a person, API keys (listing them
  too). Admin, owner.
- audit: reading the audit log. Admin, owner.
- members: members and their roles. Owner.

A ``full`` API key acts as an admin, a ``read`` key as a viewer: machines never manage members.
"""

from dataclasses import dataclass
from enum import StrEnum

from store.models import OrganizationRow


class Permission(StrEnum):
    READ = "read"
    OPERATE = "operate"
    ADMINISTER = "administer"
    AUDIT = "audit"
    MEMBERS = "members"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.OPERATE}),
    Role.ADMIN: frozenset({Permission.READ, Permission.OPERATE, Permission.ADMINISTER, Permission.AUDIT}),
    Role.OWNER: frozenset(Permission),
}
KEY_SCOPE_ROLES = {"read": Role.VIEWER, "full": Role.ADMIN}

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Routes whose every method needs a permission of its own, by path prefix.
ANY_METHOD_PERMISSIONS = (
    ("/v1/members", Permission.MEMBERS),
    ("/v1/audit", Permission.AUDIT),
    ("/v1/keys", Permission.ADMINISTER),
)
# What a write needs, by route path prefix: the first match wins, so the specific come first.
WRITE_PERMISSIONS = (
    ("/v1/campaigns/preview", Permission.READ),
    ("/v1/agents/{name}/call", Permission.OPERATE),
    ("/v1/agents/{name}/web-call", Permission.OPERATE),
    ("/v1/agents/{name}/chat", Permission.OPERATE),
    ("/v1/campaigns", Permission.OPERATE),
    ("/v1/contacts", Permission.OPERATE),
    ("/v1/calls", Permission.OPERATE),
    ("/v1/dnc", Permission.OPERATE),
)
# Any other write (agents, numbers, webhooks, policy, people, and whatever is added later) is an admin's.
DEFAULT_WRITE_PERMISSION = Permission.ADMINISTER


@dataclass(frozen=True)
class Principal:
    """The caller: an organization, a role, and who to name in the audit log."""

    org: OrganizationRow
    role: Role
    actor: str
    csrf_token: str | None = None  # set for a dashboard session, whose writes must send it back

    @property
    def is_session(self) -> bool:
        return self.csrf_token is not None

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def required_permission(method: str, route_path: str) -> Permission:
    """The one permission a request needs, from its method and its route's path template."""
    for prefix, permission in ANY_METHOD_PERMISSIONS:
        if route_path.startswith(prefix):
            return permission
    if method.upper() in READ_METHODS:
        return Permission.READ
    for prefix, permission in WRITE_PERMISSIONS:
        if route_path.startswith(prefix):
            return permission
    return DEFAULT_WRITE_PERMISSION


def refusal(principal: Principal, permission: Permission) -> str:
    """The one-line reason a 403 gives."""
    allowed = ", ".join(role.value for role in Role if permission in ROLE_PERMISSIONS[role])
    if principal.is_session:
        return f"your role ({principal.role}) may not do this: it needs the {permission} permission ({allowed})"
    if principal.role is Role.VIEWER:
        return "this API key is read-only: use a full key to change anything"
    return f"API keys may not do this: it needs the {permission} permission ({allowed})"


def key_actor(prefix: str, label: str) -> str:
    """How the audit log names an API key: its shown prefix, and its label when it has one."""
    return f"API key {prefix}… ({label})" if label else f"API key {prefix}…"
