"""What a run captures about the code that ran: its source location and its git state."""
