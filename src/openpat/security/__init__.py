"""Users, roles, permissions and the rules that decide who may do what (pure)."""

from openpat.security.permissions import (
    ROLE_PERMISSIONS,
    Membership,
    Permission,
    Principal,
    Role,
    roles_with,
)

__all__ = ["ROLE_PERMISSIONS", "Membership", "Permission", "Principal", "Role", "roles_with"]
