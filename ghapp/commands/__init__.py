"""Comment commands (`/claim-ownership`, `/owners`, `/recheck`, `/waive`, `/help`): authorised,
acknowledged, audited. Parsing and edit planning are pure (ghapp.core.commands, ghapp.core.ownership.claim);
this package runs them against GitHub (handlers), decides who may (authz), records what
happened (audit) and hooks into the app's router (register)."""
