"""The WHMCS-compatible admin API at /includes/api.php: authentication, dispatch, commands."""
