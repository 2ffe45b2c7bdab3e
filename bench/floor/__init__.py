"""The floor: the least a Django view can do for the webhook's durable work, to measure intake against."""
