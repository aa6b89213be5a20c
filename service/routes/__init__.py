"""Thin HTTP routers: validate, call the pipeline or the state, shape the answer."""
