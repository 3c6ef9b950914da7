output "cluster_name" {
  description = "The EKS cluster (aws eks update-kubeconfig --name …), where deploy/k8s goes."
  value       = aws_eks_cluster.rouge.name
}

output "database_endpoint" {
  description = "host:port of PostgreSQL for DATABASE_URL (user rouge, database rouge; the password is in the RDS-managed secret)."
  value       = aws_db_instance.rouge.endpoint
}

output "database_password_secret_arn" {
  description = "The Secrets Manager secret RDS keeps the master password in."
  value       = aws_db_instance.rouge.master_user_secret[0].secret_arn
}

output "connections_secret_arn" {
  description = "REDIS_URL and AMQP_URL, for the rouge-database Kubernetes Secret."
  value       = aws_secretsmanager_secret.connections.arn
}

output "key_directory_secret_arn" {
  description = "Where to keep the key directory (becomes the rouge-keys Kubernetes Secret)."
  value       = aws_secretsmanager_secret.keys.arn
}

output "backup_passphrase_secret_arn" {
  description = "ROUGE_BACKUP_PASSPHRASE for the backup job."
  value       = aws_secretsmanager_secret.backup_passphrase.arn
}

output "backup_bucket" {
  description = "The S3 bucket `rouge backup` directories are copied to."
  value       = aws_s3_bucket.backups.bucket
}
