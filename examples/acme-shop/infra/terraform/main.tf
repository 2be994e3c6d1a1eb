resource "aws_s3_bucket" "receipts" {
  bucket = "acme-receipts"
}
