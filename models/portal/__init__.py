"""The customer billing portal: one-time links that open a browser session scoped to one
tenant, and the operator's configuration of what customers may change there."""
