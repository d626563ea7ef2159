"""The content: YAML read strictly, the model it fills, the catalog of every item, its governance and settings."""
