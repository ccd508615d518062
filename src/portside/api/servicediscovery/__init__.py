"""Cloud Map (servicediscovery) handlers."""
