"""The pages of the app: Compare (with the result viewer and the AI panel), History, Documents,
Region, and the status section of the sidebar."""
