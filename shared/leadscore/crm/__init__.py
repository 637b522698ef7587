"""CRM write-back, pure: what a lead looks like in HubSpot and Salesforce, and the rate-limit maths."""
