"""What users see: the core reporters (``human``) and one formatter module per area; importing the
package registers every formatter."""

from cylink_deploy.output import doctor, loadtest, operations, stacks  # noqa: F401 (registers the formatters)
