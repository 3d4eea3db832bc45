"""Zendesk Support source. So far only its error table: the collections come with their issue."""
