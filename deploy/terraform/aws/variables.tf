variable "name" {
  description = "Prefix of every resource's name (e.g. \"rouge-prod\")."
  type        = string
  default     = "rouge"
}

variable "vpc_id" {
  description = "The VPC to deploy into (private subnets with a NAT gateway for egress)."
  type        = string
}

variable "private_subnet_ids" {
  description = "At least two private subnets in different availability zones: the cluster's nodes, the database, Redis and RabbitMQ."
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Two subnets in two zones at least: the database's standby and the brokers live in another zone."
  }
}

variable "kubernetes_version" {
  description = "EKS control plane version."
  type        = string
  default     = "1.31"
}

variable "node_instance_types" {
  description = "Instance types of the EKS managed node group."
  type        = list(string)
  default     = ["m7g.large"]
}

variable "node_count" {
  description = "Nodes: desired, minimum and maximum (the pods' HPA scales within them)."
  type = object({
    desired = number
    min     = number
    max     = number
  })
  default = { desired = 3, min = 3, max = 9 }
}

variable "postgres_version" {
  description = "RDS PostgreSQL engine version (rouge's migrations need 13 or later)."
  type        = string
  default     = "15.8"
}

variable "postgres_instance_class" {
  description = "RDS instance class. The instance runs Multi-AZ: a synchronous standby in another zone, failed over to automatically."
  type        = string
  default     = "db.m7g.large"
}

variable "postgres_storage_gb" {
  description = "Allocated storage (GiB); it grows on its own up to four times this."
  type        = number
  default     = 100
}

variable "backup_retention_days" {
  description = "RDS automated backups and point-in-time recovery window (days, 1 to 35)."
  type        = number
  default     = 14
}

variable "redis_node_type" {
  description = "ElastiCache node type (rate-limit budgets and the shared page cache; nothing durable)."
  type        = string
  default     = "cache.m7g.large"
}

variable "mq_instance_type" {
  description = "Amazon MQ for RabbitMQ instance type (a three-node cluster across zones)."
  type        = string
  default     = "mq.m5.large"
}

variable "backup_bucket_retention_days" {
  description = "How long `rouge backup` directories are kept in the S3 bucket (days)."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
