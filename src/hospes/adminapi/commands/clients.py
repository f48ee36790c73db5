"""AddClient, GetClients, GetClientsDetails, UpdateClient, CloseClient, GetClientsProducts."""
