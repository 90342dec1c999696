"""Pydantic contracts shared by workflows, activities, the API, the CLI and the voice agent."""
