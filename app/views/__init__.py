"""Views of the product's objects that every surface (API, Slack, share page) shares."""
