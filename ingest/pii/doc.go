// Package pii masks personal data in customer-service text before anything is stored or
// embedded: mainland mobile numbers, landlines, e-mail addresses, resident ID numbers
// (GB 11643 checksum), bank card numbers (Luhn), order numbers, names after labels such as
// 收件人/联系人, and street addresses.
//
// Each kind is replaced by a bracketed Chinese placeholder such as [手机号] or [身份证号], so
// masked text still reads naturally and placeholders are never matched again (masking is
// idempotent). Numeric kinds are validated (checksum, Luhn, date, prefix) and must stand
// alone — not glued to letters or other digits — so prices (299元), model codes (XR-500,
// E104), dates and SKUs are left untouched.
package pii
