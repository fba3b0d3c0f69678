"""The Docker engine: one client and its errors, and containers started as SageMaker starts them."""
