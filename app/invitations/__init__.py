"""Invitations by email (iMIP, RFC 6047 over iTIP, RFC 5546): the REQUEST and CANCEL
documents and their message (``imip``), signed links (``links``), their routes and SMTP."""
