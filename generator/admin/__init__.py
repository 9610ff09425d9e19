"""Admin for the generator app: one module per area, each registering its own ModelAdmins."""
