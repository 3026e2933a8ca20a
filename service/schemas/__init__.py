"""Marshmallow schemas of the public JSON: every request body, query string and path
parameter is loaded by one, and every answer is described by one. They are the API's
contract: the OpenAPI document is generated from them (service.openapi)."""
