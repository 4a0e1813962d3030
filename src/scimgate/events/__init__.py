"""Change events: written with each change (the outbox), read in order (the feed), pushed to webhooks."""
