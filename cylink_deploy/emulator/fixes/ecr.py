"""ECR layers."""

from __future__ import annotations

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr.responses import ECRResponse

from ..registry import Patch, fix


class LayersNotFoundException(ServiceException):
    code = "LayersNotFoundException"
    message = "The specified layers could not be found, or the specified layer is not valid for this repository."


def _get_download_url_for_layer(self: ECRResponse) -> ActionResult:
    """AWS's answer for a layer the repository does not hold -- and moto holds none: PutImage stores only the
    manifest (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetDownloadUrlForLayer.html)."""
    self.ecr_backend._get_repository(self._get_param("repositoryName"), self._get_param("registryId"))
    raise LayersNotFoundException()


@fix
def ecr_layer_download_url(patch: Patch) -> None:
    """GetDownloadUrlForLayer is not implemented (HTTP 500, which botocore retries ten times): answer as AWS
    does for a layer the repository lacks, LayersNotFoundException (release then says the image's config
    was not checked)."""
    patch(ECRResponse, "get_download_url_for_layer", _get_download_url_for_layer)
