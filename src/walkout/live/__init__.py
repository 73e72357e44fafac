"""The live store: sensor ingestion, the message bus and fusion per store."""
