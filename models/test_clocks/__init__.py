"""Test clocks: frozen time for the tenants attached to one, advanced on demand, running what falls due."""
