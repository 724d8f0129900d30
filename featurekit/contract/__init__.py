"""The data contract: the pandera schema, the column reader and its failures."""
