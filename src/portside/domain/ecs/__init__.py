"""The ECS resource model and its operations."""
