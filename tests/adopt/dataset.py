"""What the legacy (Bitnami-era) server is filled with before the adoption.

Users are chosen to break naive handling: non-Latin-1 text, spaces, percent signs (the
basic_auth.ini interpolation trap, URL encoding), both quote kinds, colons and backslashes
in passwords, and names and passwords far longer than usual.
"""

# The Bitnami chart's default admin user is called "user".
ADMIN = ("user", "Bitn4miAdminPw16")

USERS = [
    # username, password, is_admin
    ("zoë ünïcødé 用户", "пароль-密码-ß✓ with spaces", False),
    ("with space user", "pass with  two  spaces ", False),
    ("percent%user%41", "100%pass%20word%%", False),
    ("quote'n\"double", 'it\'s "quoted" \\ back:slash:colon', False),
    ("long-" + "ł" * 150 + "-end", "P" + "ässwörd-" * 40, False),
    ("second-admin@example.com", "Second admin 2nd %s!", True),
]

# The old oauth2-proxy's --basic-auth-password: every SSO user (named by e-mail) has it.
BRIDGE_PASSWORD = "old bridge %pw: 'from' oauth2-proxy/ü"
SSO_USERS = ["ada.lovelace@example.com", "o'brien+ml@example.org"]
USERS += [(name, BRIDGE_PASSWORD, False) for name in SSO_USERS]

ZOE, SPACE, PERCENT, QUOTE, LONG, ADMIN2, ADA, OBRIEN = (u[0] for u in USERS)
USERNAMES = [u[0] for u in USERS]
# Every login of the legacy server, the Bitnami admin included.
PASSWORDS = dict([ADMIN] + [(u[0], u[1]) for u in USERS])

EXPERIMENTS = {
    # key: (name, created by)
    "main": ("adoption/exp 實驗 (main)", "admin"),
    "quotes": ("exp with 'quotes' & 100% \"odd\" chars", "admin"),
    "by_user": ("created by a plain user", SPACE),
}

MODELS = ["model-模型", "model with space"]

# Legacy per-resource grants (MLflow < 3.13). NO_PERMISSIONS is an explicit "none" that
# must survive the 3.13 role migration: losing it would give the user the default READ.
EXPERIMENT_GRANTS = [
    ("main", ZOE, "READ"),
    ("main", PERCENT, "EDIT"),
    ("main", QUOTE, "MANAGE"),
    ("main", LONG, "NO_PERMISSIONS"),
    ("quotes", ZOE, "MANAGE"),
    ("quotes", SPACE, "READ"),
    ("by_user", ZOE, "EDIT"),
    ("main", ADA, "MANAGE"),
    ("quotes", OBRIEN, "READ"),
]
MODEL_GRANTS = [
    ("model-模型", ZOE, "READ"),
    ("model-模型", PERCENT, "MANAGE"),
    ("model-模型", LONG, "NO_PERMISSIONS"),
    ("model with space", QUOTE, "EDIT"),
    ("model with space", ADA, "READ"),
]

DEFAULT_PERMISSION = "READ"
