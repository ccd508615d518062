"""Cloud Map: namespaces, services, instances and the operations that change them."""
