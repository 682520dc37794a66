"""Cases: families, their members and notes, readable only by the staff of the case."""
