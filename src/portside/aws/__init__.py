"""AWS wire protocols, SigV4 and ARNs — no ECS semantics live here."""
