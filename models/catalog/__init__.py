"""The catalog: plans, add-ons, and which add-ons each plan offers."""
