"""Shared pieces of the resource types moto's CloudFormation does not know.

The models are plain classes, not ``CloudFormationModel`` subclasses: moto finds its models through
``CloudFormationModel.__subclasses__()``, so a subclass would be in force as soon as it is imported.
``register_models`` puts them in front of moto's lookup through the patch, so restoring removes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

from ..registry import Patch


class CompatModel:
    """What moto's CloudFormation needs of a resource: a physical ID, named attributes, create,
    update (as replace) and delete. Subclasses set TYPE and implement ``create``."""

    TYPE = ""

    def __init__(self, physical_id: str, attributes: dict[str, Any] | None = None) -> None:
        self.physical_id = physical_id
        self.attributes = attributes or {}

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    def get_cfn_attribute(self, attr: str) -> Any:
        if attr in self.attributes:
            return self.attributes[attr]
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    @classmethod
    def create_resource(cls, name: str, props: dict[str, Any], account_id: str, region_name: str) -> "CompatModel":
        """Create the resource in moto's service backend; ``name`` is moto's generated name."""
        raise NotImplementedError

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        """Delete it from the service backend (default: nothing to delete)."""

    # The signatures moto calls, mapped onto create/delete.
    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "CompatModel":
        return cls.create_resource(resource_name, cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> "CompatModel":
        cls.delete_resource(original_resource.physical_id, cloudformation_json, account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        cls.delete_resource(resource_name, cloudformation_json, account_id, region_name)


def register_models(patch: Patch, *models: type[CompatModel]) -> None:
    """Make moto's CloudFormation create ``models`` for their TYPEs (and forget them on restore)."""
    by_type = {model.TYPE: model for model in models}
    lookup = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        return by_type.get(resource_type) or lookup(resource_type)

    patch(parsing, "resource_class_from_type", resource_class_from_type)


def lowercase_name(resource_name: str, limit: int) -> str:
    """A generated name as services that want lowercase, bounded names derive it."""
    return resource_name.lower()[:limit].rstrip("-")


def wrap_classmethod(patch: Patch, model: type, name: str, wrapper: Any) -> None:
    """Replace classmethod ``name`` of ``model`` by ``wrapper(original, cls, *args, **kwargs)``."""
    original = vars(model)[name].__func__ if name in vars(model) else getattr(model, name).__func__

    def method(cls: type, *args: Any, **kwargs: Any) -> Any:
        return wrapper(original, cls, *args, **kwargs)

    patch(model, name, classmethod(method))


Properties = dict[str, Any]


def before_create(patch: Patch, model: type, edit: Callable[[Properties], Properties]) -> None:
    """Create ``model`` from the properties ``edit`` returns: for template properties moto reads in
    another shape than CloudFormation writes (or leaves out a default AWS applies)."""

    def create(original: Any, cls: type, name: str, cfn_json: Any, account_id: str, region_name: str, **kw: Any) -> Any:
        edited = {**cfn_json, "Properties": edit(dict(cfn_json.get("Properties", {})))}
        return original(cls, name, edited, account_id, region_name, **kw)

    wrap_classmethod(patch, model, "create_from_cloudformation_json", create)


def after_create(patch: Patch, model: type, apply: Callable[[Any, Properties, str, str], None]) -> None:
    """Create ``model`` as moto does, then ``apply(resource, properties, account_id, region_name)``: for
    properties moto ignores that its backend can still apply."""

    def create(original: Any, cls: type, name: str, cfn_json: Any, account_id: str, region_name: str, **kw: Any) -> Any:
        resource = original(cls, name, cfn_json, account_id, region_name, **kw)
        apply(resource, cfn_json.get("Properties", {}), account_id, region_name)
        return resource

    wrap_classmethod(patch, model, "create_from_cloudformation_json", create)
