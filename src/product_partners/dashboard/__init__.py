"""The web dashboard: server-rendered pages under ``/dashboard`` for the people of a business,
as owner (products, review queue, decisions, programme settings) and as partner (its
partnerships and links, requests to join). Every action calls the same services as the API."""
