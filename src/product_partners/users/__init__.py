"""People who sign in to the web dashboard for a business, and their sessions."""
