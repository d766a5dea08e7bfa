"""Browser pages: server-rendered Jinja2 templates (autoescaped) and static files."""
