"""Seats and the members who hold them: seat arithmetic, seat enforcement on invites, and
the check that a purchase fits the team."""
