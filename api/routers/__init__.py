"""Thin routers: decode, call the db layer or the workflow, encode."""
