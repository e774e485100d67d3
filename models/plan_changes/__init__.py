"""Plan changes: proration rules and the one pricing path that the preview and the change share."""
