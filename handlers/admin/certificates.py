"""Admin pages of the certificate authority (security profile 3): the CA certificate as
PEM to install elsewhere, and the CSRs kept for an external CA (download one, upload the
certificate the CA signed, which is then sent to the charger with CertificateSigned)."""

from __future__ import annotations

import logging

import tornado.web

from auth.roles import ADMIN
from csms.certificates import UploadError, upload_signed
from handlers.admin.base import ADMIN_PATH, AdminHandler
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.admin")

CA_PEM_PATH = ADMIN_PATH + "security/ca.pem"
CSR_PATH = ADMIN_PATH + "security/csrs/"


class CaCertificateHandler(AdminHandler):
    """``GET /ocpp/admin/security/ca.pem``: the CA certificate (PEM), 404 without a CA."""

    read_role = ADMIN
    write_role = ADMIN

    @tornado.web.authenticated
    async def get(self) -> None:
        """The PEM as a download."""
        ca = self.services.ca
        if ca is None:
            raise tornado.web.HTTPError(404, log_message="no certificate authority")
        self.set_header("Content-Type", "application/x-pem-file")
        self.set_header("Content-Disposition", 'attachment; filename="csms-ca.pem"')
        self.finish(ca.pem)


class CsrHandler(AdminHandler):
    """``GET /ocpp/admin/security/csrs/<id>.pem``: a kept CSR, for the external CA."""

    read_role = ADMIN
    write_role = ADMIN

    @tornado.web.authenticated
    async def get(self, csr_id: str) -> None:
        """The CSR as a download, 404 when there is none."""
        kept = await self.services.certificates.get_csr(csr_id)
        if kept is None:
            raise tornado.web.HTTPError(404, log_message="no such CSR")
        self.set_header("Content-Type", "application/pkcs10")
        filename = f"{kept['charger']}-{csr_id}.csr"
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(kept["csr"])


class CsrUploadHandler(AdminHandler):
    """``POST /ocpp/admin/security/csrs/<id>/certificate``: the signed certificate (PEM,
    field ``certificate``) for a kept CSR: stored and sent with CertificateSigned."""

    read_role = ADMIN
    write_role = ADMIN

    @tornado.web.authenticated
    async def post(self, csr_id: str) -> None:
        """Check, store and send; the outcome is flashed on the security page."""
        text = self.body_fields("certificate")["certificate"].strip()
        try:
            doc, outcome = await upload_signed(self.services, csr_id, text, utcnow())
        except LookupError:
            raise tornado.web.HTTPError(404, log_message="no pending CSR") from None
        except UploadError as exc:
            self.flash(f"Certificate not accepted: {exc}")
            self.redirect(ADMIN_PATH + "security/#csrs")
            return
        user = self.current_user["username"]
        log.info("certificate %s for %s uploaded by %s; CertificateSigned %s", doc["serial"],
                 doc["charger"], user, outcome.status)  # fmt: skip
        self.flash(f"Certificate {doc['serial']} stored for {doc['charger']};"
                   f" CertificateSigned: {outcome.status}.")  # fmt: skip
        self.redirect(ADMIN_PATH + "security/#csrs")


default_handlers = [
    (CA_PEM_PATH, CaCertificateHandler),
    (CSR_PATH + r"([^/]+)\.pem", CsrHandler),
    (CSR_PATH + r"([^/]+)/certificate", CsrUploadHandler),
]
