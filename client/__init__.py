"""A Python client of the Keras training service and the `keras-service` command on it.

Needs only `requests` and `rich`: no Flask, RQ or TensorFlow.
"""

from client.api import ApiError, Client, ClientError, Unreachable

__all__ = ["ApiError", "Client", "ClientError", "Unreachable"]
