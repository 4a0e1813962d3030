"""What an operator watches: metrics, health and readiness, the server log and the access log."""
