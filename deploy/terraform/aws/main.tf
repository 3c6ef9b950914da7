# A managed home for Rouge on AWS: an EKS cluster for the pods (deploy/k8s), RDS PostgreSQL
# with a synchronous Multi-AZ standby and point-in-time recovery, ElastiCache Redis, Amazon MQ
# for RabbitMQ, an S3 bucket for `rouge backup`, and Secrets Manager entries for the key
# directory and the backup passphrase, all encrypted under one customer-managed KMS key.
# Parsed (python-hcl2) and scanned (checkov) by the test suite; `terraform validate` is not run
# there (it needs the providers downloaded).

provider "aws" {
  default_tags {
    tags = merge({ "app.kubernetes.io/part-of" = "rouge" }, var.tags)
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# ---------------------------------------------------------------------------------------
# Encryption
# ---------------------------------------------------------------------------------------

resource "aws_kms_key" "rouge" {
  description             = "${var.name}: database, cache, broker, backups and secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

# ---------------------------------------------------------------------------------------
# Kubernetes (EKS)
# ---------------------------------------------------------------------------------------

resource "aws_iam_role" "cluster" {
  name = "${var.name}-eks-cluster"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "eks.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_eks_cluster" "rouge" {
  name                      = var.name
  version                   = var.kubernetes_version
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  vpc_config {
    subnet_ids              = var.private_subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = false
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.rouge.arn
    }
  }

  depends_on = [aws_iam_role_policy_attachment.cluster]
}

resource "aws_iam_role" "nodes" {
  name = "${var.name}-eks-nodes"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "nodes" {
  for_each   = toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"])
  role       = aws_iam_role.nodes.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.value}"
}

resource "aws_eks_node_group" "rouge" {
  cluster_name    = aws_eks_cluster.rouge.name
  node_group_name = "${var.name}-nodes"
  node_role_arn   = aws_iam_role.nodes.arn
  subnet_ids      = var.private_subnet_ids
  instance_types  = var.node_instance_types
  ami_type        = "AL2023_ARM_64_STANDARD"

  scaling_config {
    desired_size = var.node_count.desired
    min_size     = var.node_count.min
    max_size     = var.node_count.max
  }

  update_config {
    max_unavailable = 1
  }

  depends_on = [aws_iam_role_policy_attachment.nodes]
}

# ---------------------------------------------------------------------------------------
# Network access: the data services answer the cluster's nodes only
# ---------------------------------------------------------------------------------------

resource "aws_security_group" "data" {
  name        = "${var.name}-data"
  description = "PostgreSQL, Redis and RabbitMQ, reachable from the EKS cluster only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "PostgreSQL from the cluster"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_eks_cluster.rouge.vpc_config[0].cluster_security_group_id]
  }

  ingress {
    description     = "Redis (TLS) from the cluster"
    from_port       = 6379
    to_port         = 6379
    protocol        = "tcp"
    security_groups = [aws_eks_cluster.rouge.vpc_config[0].cluster_security_group_id]
  }

  ingress {
    description     = "AMQP over TLS from the cluster"
    from_port       = 5671
    to_port         = 5671
    protocol        = "tcp"
    security_groups = [aws_eks_cluster.rouge.vpc_config[0].cluster_security_group_id]
  }
}

# ---------------------------------------------------------------------------------------
# PostgreSQL (RDS, Multi-AZ: a synchronous standby in another zone)
# ---------------------------------------------------------------------------------------

resource "aws_db_subnet_group" "rouge" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_parameter_group" "rouge" {
  name   = "${var.name}-pg15"
  family = "postgres15"

  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name = "${var.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "monitoring.rds.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "rouge" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.postgres_version
  instance_class = var.postgres_instance_class
  db_name        = "rouge"
  username       = "rouge"
  # The password lives in Secrets Manager, rotated by RDS.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.rouge.arn

  multi_az                            = true
  allocated_storage                   = var.postgres_storage_gb
  max_allocated_storage               = var.postgres_storage_gb * 4
  storage_type                        = "gp3"
  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.rouge.arn
  db_subnet_group_name                = aws_db_subnet_group.rouge.name
  vpc_security_group_ids              = [aws_security_group.data.id]
  parameter_group_name                = aws_db_parameter_group.rouge.name
  publicly_accessible                 = false
  iam_database_authentication_enabled = true

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  auto_minor_version_upgrade            = true
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.rouge.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 30
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn

  depends_on = [aws_iam_role_policy_attachment.rds_monitoring]
}

# ---------------------------------------------------------------------------------------
# Redis (ElastiCache): rate-limit budgets and the shared page cache
# ---------------------------------------------------------------------------------------

resource "aws_elasticache_subnet_group" "rouge" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "random_password" "redis" {
  length  = 48
  special = false
}

resource "aws_elasticache_replication_group" "rouge" {
  replication_group_id       = var.name
  description                = "${var.name}: rate limits and page cache"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true
  subnet_group_name          = aws_elasticache_subnet_group.rouge.name
  security_group_ids         = [aws_security_group.data.id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  kms_key_id                 = aws_kms_key.rouge.arn
  auth_token                 = random_password.redis.result
  snapshot_retention_limit   = 1
  auto_minor_version_upgrade = true
}

# ---------------------------------------------------------------------------------------
# RabbitMQ (Amazon MQ): the events and the work consumers' queues
# ---------------------------------------------------------------------------------------

resource "random_password" "mq" {
  length  = 32
  special = false
}

resource "aws_mq_broker" "rouge" {
  broker_name                = var.name
  engine_type                = "RabbitMQ"
  engine_version             = "3.13"
  host_instance_type         = var.mq_instance_type
  deployment_mode            = "CLUSTER_MULTI_AZ"
  subnet_ids                 = var.private_subnet_ids
  security_groups            = [aws_security_group.data.id]
  publicly_accessible        = false
  auto_minor_version_upgrade = true

  encryption_options {
    kms_key_id        = aws_kms_key.rouge.arn
    use_aws_owned_key = false
  }

  logs {
    general = true
  }

  user {
    username = "rouge"
    password = random_password.mq.result
  }
}

# ---------------------------------------------------------------------------------------
# Backups (S3) and secrets
# ---------------------------------------------------------------------------------------

resource "aws_s3_bucket" "backups" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a choice of the shop's recovery plan (docs/operations.md), made outside this module.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new backups; the backup job reports its own outcome.
  #checkov:skip=CKV_AWS_18:Access logging needs a log bucket owned by the account's logging setup, outside this module.
  bucket_prefix = "${var.name}-backups-"
}

resource "aws_s3_bucket_versioning" "backups" {
  bucket = aws_s3_bucket.backups.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.rouge.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "backups" {
  bucket                  = aws_s3_bucket.backups.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    id     = "expire-old-backups"
    status = "Enabled"
    filter {}
    expiration {
      days = var.backup_bucket_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_secretsmanager_secret" "keys" {
  #checkov:skip=CKV2_AWS_57:The key directory is rotated by `rouge keys rotate`, not by a Lambda.
  name_prefix = "${var.name}-key-directory-"
  description = "Rouge's key directory (master, blind-index and signing keys): one JSON object of file name to base64 content"
  kms_key_id  = aws_kms_key.rouge.arn
}

resource "aws_secretsmanager_secret" "backup_passphrase" {
  #checkov:skip=CKV2_AWS_57:Rotating it means taking a new backup under the new passphrase (docs/operations.md).
  name_prefix = "${var.name}-backup-passphrase-"
  description = "ROUGE_BACKUP_PASSPHRASE: seals the key directory inside `rouge backup`"
  kms_key_id  = aws_kms_key.rouge.arn
}

resource "aws_secretsmanager_secret" "connections" {
  #checkov:skip=CKV2_AWS_57:Redis and RabbitMQ credentials change with a new deployment of this module.
  name_prefix = "${var.name}-connections-"
  description = "REDIS_URL and AMQP_URL for the rouge-database Kubernetes Secret"
  kms_key_id  = aws_kms_key.rouge.arn
}

resource "aws_secretsmanager_secret_version" "connections" {
  secret_id = aws_secretsmanager_secret.connections.id
  secret_string = jsonencode({
    REDIS_URL = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.rouge.primary_endpoint_address}:6379"
    AMQP_URL  = "amqps://rouge:${random_password.mq.result}@${replace(aws_mq_broker.rouge.instances[0].endpoints[0], "amqps://", "")}"
  })
}
